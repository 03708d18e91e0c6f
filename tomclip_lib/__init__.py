"""tomclip_lib: the library behind the ToMCLIP companion notebooks.

Layout (arrows go one way): data -> models -> topology -> train -> evaluate -> analysis -> plots.
Importing the package sets the Hugging Face offline flags when the hub is unreachable, so that no
code path waits on a network that is not there.
"""
from .network import configure_hub_offline as _configure_hub_offline

_configure_hub_offline()

__version__ = "0.6.0"  # CHANGELOG.md
