"""The operations the registry's browser and job functions run; they know no HTTP."""
