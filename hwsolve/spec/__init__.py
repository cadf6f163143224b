"""YAML specs to typed, validated problems. Every error names the file, the line and the field."""
