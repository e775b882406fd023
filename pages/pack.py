import streamlit as st

st.title("pack")
