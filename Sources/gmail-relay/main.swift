print("gmail-relay")
