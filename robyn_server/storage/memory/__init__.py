"""storage/memory"""
