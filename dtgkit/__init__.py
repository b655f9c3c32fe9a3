"""dtgkit: DTG-Net (Differentiated Teachers Guided self-supervised video action recognition)."""
__version__ = "0.1.0"
