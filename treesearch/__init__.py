"""treesearch"""
