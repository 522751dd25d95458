"""aecore's package data, installed as ``aecore.assets`` (see ``aecore.storage``): read, never written."""
