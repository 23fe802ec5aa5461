"""Decision support: the cost and capacity model behind `ml-inference cost` and `ml-inference recommend`.

Prices come from a data file (``price_sheets/<region>.json``, or ``--prices FILE``); see docs/cost-model.md.
"""

from .model import Options, Workload, crossovers, estimate_all, network_cost
from .prices import InputError, Prices, load_prices
from .recommend import recommend

__all__ = ["InputError", "Options", "Prices", "Workload", "crossovers", "estimate_all", "load_prices", "network_cost",
           "recommend"]
