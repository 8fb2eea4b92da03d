"""`fedsilo bench`: measured costs of secure aggregation against their floors."""
