"""Both ends of the link between the tester and the student kernel."""
