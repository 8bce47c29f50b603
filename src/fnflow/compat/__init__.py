"""Other platforms' wire formats, as thin translations over ``fnflow.services``."""
