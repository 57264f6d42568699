"""惠企 huiqi: policies as rules, and the platform that delivers them to enterprises."""

__version__ = "0.1.0"
