"""storage/postgres"""
