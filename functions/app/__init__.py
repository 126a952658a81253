"""The composition root: the registry of deployed functions and what an instance does at boot."""
