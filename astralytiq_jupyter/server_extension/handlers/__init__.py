"""Thin tornado handlers, one module per area: parse, call one core method, reply."""
