"""Application services: the use cases, each one transaction with its audit record.

Services depend on the ports in :mod:`isthmus.services.ports`, never on a framework.
"""
