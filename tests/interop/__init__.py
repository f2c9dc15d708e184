"""Interop: EAC-CPF, Dublin Core and OAI-PMH."""
