"""Command-line interface: options and TOML become typed settings here, and nowhere else."""
