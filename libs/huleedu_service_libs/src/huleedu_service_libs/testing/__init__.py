"""Test support: real infrastructure, isolated per test run (databases, key prefix, topics)."""
