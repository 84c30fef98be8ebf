"""The rectification ledger (隐患台账): the workflow every hazard follows from discovery to closure, and its history."""
