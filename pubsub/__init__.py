"""The Broker protocol with in-memory and Redis backends; channel naming in one place."""
