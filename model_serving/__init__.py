"""Ray Serve applications for the model ports (OpenAI-compatible HTTP): see README.md."""
