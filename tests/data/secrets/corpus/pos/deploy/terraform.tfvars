access_key = "AKIAWY5IDQROB3EPRWTA"
region = "us-east-2"
