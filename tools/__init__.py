"""Developer tools that are never deployed: OpenAPI generation, mail preview and samples."""
