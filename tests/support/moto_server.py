"""Runs a moto server on 127.0.0.1 with a free port, for the black-box tests.

Prints the port on one line, then serves until its standard input closes, which
happens when the test process that started it exits, however it exits.
"""
import sys

from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
