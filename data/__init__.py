"""Data shipped with the repository: importer mappings, billing examples and the demo generator (data.demo)."""
