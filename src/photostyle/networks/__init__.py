"""The style networks: plain nn.Modules, photo in and photo out, importing no Lightning or Hydra."""
