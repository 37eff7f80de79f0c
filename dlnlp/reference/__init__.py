"""Reference implementations: test fixtures and the modules later notebooks build on."""
