"""Prepare: what a run needs before it can start: container images and data files.

Owns the Apptainer definition files and their OSDF locations (``images``) and the
study's data inputs: checksums, verified downloads, OSDF staging (``datafiles``). May
import ``spec``, ``condor``, ``core`` and ``job``.
"""
