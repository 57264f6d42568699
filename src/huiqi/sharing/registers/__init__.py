"""The five department registers, each its own system with its own database and keys."""

from __future__ import annotations

from huiqi.sharing.registers.base import SENSITIVITY_LABELS, Dated, Register, RegisterField, Sealer
from huiqi.sharing.registers.hrss import InsuranceRegister
from huiqi.sharing.registers.mps import PopulationRegister
from huiqi.sharing.registers.nhc import HealthRegister
from huiqi.sharing.registers.samr import EnterpriseRegister
from huiqi.sharing.registers.tax import TaxRegister

#: member code → its register class.
REGISTERS: dict[str, type[Register]] = {
    cls.member: cls for cls in (EnterpriseRegister, PopulationRegister, TaxRegister, InsuranceRegister, HealthRegister)
}
#: service code (``tax.taxpayer``) → register class.
SERVICES: dict[str, type[Register]] = {cls.service: cls for cls in REGISTERS.values()}

__all__ = [
    "REGISTERS",
    "SENSITIVITY_LABELS",
    "SERVICES",
    "Dated",
    "EnterpriseRegister",
    "HealthRegister",
    "InsuranceRegister",
    "PopulationRegister",
    "Register",
    "RegisterField",
    "Sealer",
    "TaxRegister",
]
