"""tomclip_lib: the library behind the ToMCLIP companion notebooks.

Layout, lowest layer first (a module imports only from layers below it; tests/test_layout.py checks):
topology, data, models, train, statistics, evaluate, analysis; records (what the notebook stages hand each other),
evaluation_sets; stages (one module per notebook). plots and report write figures and tables.
Importing the package sets the Hugging Face offline flags when the hub is unreachable, so that no
code path waits on a network that is not there.
"""

from .network import configure_hub_offline as _configure_hub_offline

_configure_hub_offline()

__version__ = "0.8.0"  # CHANGELOG.md
