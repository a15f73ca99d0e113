"""criu_backend"""
