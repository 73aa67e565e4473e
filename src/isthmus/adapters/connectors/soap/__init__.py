"""SOAP/XML connector: the mapping as an XML body in a SOAP 1.1/1.2 envelope, optional WSDL (zeep)."""

from isthmus.adapters.connectors.soap.client import SoapTarget, body_element, envelope, find_fault
from isthmus.adapters.connectors.soap.config import SoapConfig

__all__ = ["SoapConfig", "SoapTarget", "body_element", "envelope", "find_fault"]
