"""In-process stand-ins for upstream APIs, served over real HTTP in tests."""
