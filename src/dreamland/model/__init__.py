"""Neural network building blocks for the dreamland world model."""
