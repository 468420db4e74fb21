"""vohub client: query a vohub (or voeventdb) archive over HTTP from Python."""
