"""Database migrations: NNN_name.sql files, and NNN_name.py files with upgrade(conn), applied in order."""
