"""Herald's four services. Each is a package with one entry point (`python -m services.X`);
services meet only through Kafka topics and Postgres tables, never by importing each other."""
