"""Statistics: the search's tables, the confirmation's paired comparisons, crosses, the headline, scaling fits,
checks, fidelity and importance. Functions take a Study or DataFrames and return DataFrames."""
