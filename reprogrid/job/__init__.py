"""The job side: what runs inside the container on the execute node.

Standard library + numpy + TensorFlow only, Python >= 3.8: the containers are old.
Shipped to every job as one zipapp (see ``reprogrid.bundle``).
"""
