from photostyle.cli import main

main()
