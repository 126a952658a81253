"""The HTTP policies: the only code that knows Flask (see the map in ``billing``)."""
