import streamlit as st

st.title("librarian")
