"""Benchmarks, fault injection and the patient-data scan (docs/performance.md).

Everything here runs on loopback only (a fresh Temporal dev server in a temporary folder, the real
worker as a subprocess, local fake providers), is bounded in time and count, and stops by itself.
"""
