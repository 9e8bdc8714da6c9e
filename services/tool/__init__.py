"""Tools the chat agent may call: a bounded calculator and a sandboxed Python runner."""
