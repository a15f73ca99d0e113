"""lean_env"""
