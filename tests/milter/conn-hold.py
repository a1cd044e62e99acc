"""conn-hold.py SOCKET N SECONDS - open N milter connections to the unix
SOCKET, negotiate on each as an MTA would (SMFIC_OPTNEG, protocol
version 6), hold them SECONDS, then close them. Prints how many were
answered. For the descriptor-limit check of test_miltertest.sh."""
import socket
import struct
import sys
import time

path, n, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
# version 6; every action; every protocol step the MTA could skip
optneg = struct.pack(">IcIII", 13, b"O", 6, 0x1FF, 0x1FFFFF)
conns, answered = [], 0
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(path)
        s.sendall(optneg)
        head = s.recv(5)
        if len(head) == 5 and head[4:5] == b"O":
            answered += 1
    except OSError:
        pass
    conns.append(s)
print(answered, flush=True)
time.sleep(hold)
for s in conns:
    s.close()
