"""The roundtable database: connection, migrations, and the queries built on them."""
