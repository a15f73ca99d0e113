"""lean_env/minilean"""
