"""Small shared helpers: atomic writes, logging, stage entry points, seeding."""
