from autograder.mutants import Mutant
MUTANTS = [Mutant("ex1_double", "squares", {"x * 2": "x ** 2"}), Mutant("ex1_double", "adds", {"x * 2": "x + 2"})]
