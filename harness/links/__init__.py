"""What sits between the services: Toxiproxy links, the StartAgent tamper relay, the
completion relay.
"""
